// The supervisors' dashboard: reads /api/* (the gateway's answers for the signed-in supervisor) and
// draws them. Every value goes on the page through textContent, never as HTML.
"use strict";

const KPIS = [
  ["received", "Hồ sơ tiếp nhận"], ["received_online", "Tiếp nhận trực tuyến"], ["settled", "Đã giải quyết"],
  ["on_time_rate", "Tỷ lệ đúng hạn (%)"], ["settled_early", "Trước hạn"], ["settled_on_time", "Đúng hạn"],
  ["settled_late", "Quá hạn"], ["in_progress_on_time", "Đang giải quyết trong hạn"],
  ["in_progress_overdue", "Đang giải quyết quá hạn"], ["online_rate", "Tỷ lệ hồ sơ trực tuyến (%)"],
  ["online_payment_rate", "Tỷ lệ thanh toán trực tuyến (%)"], ["postal_return_rate", "Tỷ lệ bưu chính trả lại (%)"],
  ["supplement_rate", "Tỷ lệ yêu cầu bổ sung (%)"], ["apologies", "Thư xin lỗi"], ["reappointments", "Hẹn lại"],
  ["average_days", "Thời gian xử lý TB (ngày làm việc)"], ["p90_days", "Thời gian xử lý p90 (ngày làm việc)"],
];
const state = { kind: "unit", code: "", path: [], charts: {} };
const fmt = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 2 });

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function query(extra) {
  return new URLSearchParams({ kind: state.kind, code: state.code, ...(extra || {}) }).toString();
}

async function api(path) {
  const reply = await fetch(`${path}?${query()}`, { credentials: "same-origin" });
  let body = {};
  try { body = await reply.json(); } catch (e) { body = { error: "Máy chủ trả lời không hợp lệ" }; }
  if (reply.status === 401) { window.location.assign("/dang-nhap"); throw new Error(body.error); }
  if (!reply.ok) throw new Error(body.error || `Lỗi ${reply.status}`);
  return body;
}

function show(message) {
  const box = document.getElementById("message");
  box.textContent = message;
  box.hidden = !message;
}

function table(id, columns, rows, link) {
  const t = document.getElementById(id);
  t.replaceChildren();
  const head = el("tr");
  columns.forEach(([, title]) => head.appendChild(el("th", title)));
  t.appendChild(el("thead")).appendChild(head);
  const body = t.appendChild(el("tbody"));
  if (!rows.length) {
    const empty = body.appendChild(el("tr")).appendChild(el("td", "Không có dữ liệu"));
    empty.colSpan = columns.length;
  }
  rows.forEach((row) => {
    const tr = body.appendChild(el("tr"));
    columns.forEach(([name]) => {
      const value = row[name];
      const td = tr.appendChild(el("td", undefined, typeof value === "number" ? "n" : ""));
      if (link && name === "name" && link(row)) {
        const a = td.appendChild(el("a", value));
        a.href = "#";
        a.addEventListener("click", (event) => { event.preventDefault(); link(row)(); });
      } else {
        td.textContent = typeof value === "number" ? fmt.format(value) : (value ?? "");
      }
      td.dataset.field = name;
    });
  });
}

function chart(id, type, labels, datasets) {
  if (state.charts[id]) state.charts[id].destroy();
  if (typeof Chart === "undefined") return;
  state.charts[id] = new Chart(document.getElementById(id), {
    type, data: { labels, datasets },
    options: { animation: false, responsive: true, maintainAspectRatio: false,
      scales: { y: { beginAtZero: true, suggestedMax: 100 } } },
  });
}

const num = (figures) => Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Number(v)]));

function rank(children) {
  return children.map((c) => ({ ...c, f: num(c.figures) }))
    .sort((a, b) => (b.f.settled > 0) - (a.f.settled > 0) || b.f.on_time_rate - a.f.on_time_rate
      || b.f.settled - a.f.settled || a.name.localeCompare(b.name, "vi"));
}

function drill(scope, name) {
  return () => {
    state.path.push({ kind: scope.kind === "SCOPE_KIND_AGENCY" ? "agency" : "unit", code: scope.code, name });
    open(state.path.length - 1);
  };
}

function breadcrumb() {
  const nav = document.getElementById("breadcrumb");
  nav.replaceChildren();
  state.path.forEach((step, i) => {
    if (i) nav.appendChild(el("span", "›", "sep"));
    const a = nav.appendChild(el("a", step.name || step.code));
    a.href = "#";
    a.addEventListener("click", (event) => { event.preventDefault(); state.path.length = i + 1; open(i); });
  });
}

async function open(i) {
  const step = state.path[i];
  delete document.body.dataset.loaded;
  state.kind = step.kind;
  state.code = step.code;
  document.querySelectorAll("a.csv").forEach((a) => {
    a.href = `/csv/${a.closest("section").dataset.table}?${query()}`;
  });
  show("");
  try {
    const index = await api("/api/chi-so");
    step.name = index.index.name;
    breadcrumb();
    const f = num(index.index.figures);
    document.getElementById("unit-name").textContent = index.index.name;
    const months = index.months.map((m) => m.month);
    document.getElementById("period").textContent =
      `Từ tháng ${months[0]} đến tháng ${months[months.length - 1]}; số liệu đến ngày ${index.as_of}`;
    const kpis = document.getElementById("kpis");
    kpis.replaceChildren();
    KPIS.forEach(([name, title]) => {
      const box = kpis.appendChild(el("div"));
      box.appendChild(el("dt", title));
      box.appendChild(el("dd", fmt.format(f[name]))).dataset.field = name;
    });
    const monthly = index.months.map((m) => ({ month: m.month, ...num(m.figures) }));
    chart("chart-months", "line", months, [
      { label: "Tỷ lệ đúng hạn (%)", data: monthly.map((m) => m.on_time_rate), borderColor: "#2e7d32" },
      { label: "Tỷ lệ trực tuyến (%)", data: monthly.map((m) => m.online_rate), borderColor: "#1565c0" }]);
    table("table-months", [["month", "Tháng"], ["received", "Tiếp nhận"], ["settled", "Đã giải quyết"],
      ["settled_late", "Quá hạn"], ["on_time_rate", "Tỷ lệ đúng hạn (%)"], ["online_rate", "Tỷ lệ trực tuyến (%)"],
      ["apologies", "Thư xin lỗi"]], monthly);
    const ranked = rank(index.children).map((c, n) => ({ rank: n + 1, name: c.name, code: c.scope.code,
      scope: c.scope, has_children: c.has_children, ...c.f }));
    chart("chart-ranking", "bar", ranked.map((c) => c.name),
      [{ label: "Tỷ lệ đúng hạn (%)", data: ranked.map((c) => c.on_time_rate), backgroundColor: "#b71c1c" }]);
    table("table-ranking", [["rank", "Hạng"], ["name", "Đơn vị"], ["received", "Tiếp nhận"], ["settled", "Đã giải quyết"],
      ["on_time_rate", "Tỷ lệ đúng hạn (%)"], ["in_progress_overdue", "Đang quá hạn"], ["online_rate", "Trực tuyến (%)"],
      ["apologies", "Thư xin lỗi"]], ranked, (row) => drill(row.scope, row.name));
    const overdue = await api("/api/qua-han");
    table("table-overdue", [["dossier_code", "Mã hồ sơ"], ["procedure_name", "Thủ tục"], ["due_date", "Hạn trả"],
      ["days_late", "Số ngày quá hạn"], ["responsible_agency_name", "Đơn vị chịu trách nhiệm"]],
    overdue.dossiers.map((d) => ({ ...d, days_late: Number(d.days_late) })));
    const apologies = await api("/api/thu-xin-loi");
    table("table-apologies", [["issued_on", "Ngày"], ["dossier_code", "Mã hồ sơ"], ["procedure_name", "Thủ tục"],
      ["responsible_agency_name", "Đơn vị xin lỗi"], ["reason", "Lý do"], ["new_due_date", "Hẹn mới"]],
    apologies.apologies);
    document.body.dataset.loaded = `${state.kind}:${state.code}`;
  } catch (error) {
    show(error.message);
    document.body.dataset.loaded = "error";
  }
}

function toggles() {
  document.querySelectorAll("button.toggle").forEach((button) => {
    button.addEventListener("click", () => {
      const section = button.closest("section");
      const plot = section.querySelector(".plot");
      const grid = section.querySelector("table");
      plot.hidden = !plot.hidden;
      grid.hidden = !grid.hidden;
      button.textContent = grid.hidden ? "Xem bảng" : "Xem biểu đồ";
      const id = plot.querySelector("canvas").id;
      if (!plot.hidden && state.charts[id]) state.charts[id].resize();
    });
  });
}

async function start() {
  toggles();
  try {
    const me = await api("/api/toi");
    const params = new URLSearchParams(window.location.search);
    const code = params.get("code") || me.supervises[0];
    if (!code) { show("Tài khoản không có phân công giám sát (supervisor@…)"); return; }
    state.path = [{ kind: params.get("kind") || (code.includes(".") ? "agency" : "unit"), code, name: code }];
    open(0);
  } catch (error) {
    show(error.message);
  }
}

document.addEventListener("DOMContentLoaded", start);
