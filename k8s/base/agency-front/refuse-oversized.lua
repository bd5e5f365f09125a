-- The agency front's answer to a request over the gateway's size bound (haproxy.cfg says when): read
-- the request to its end, a chunk at a time, and only then answer RESOURCE_EXHAUSTED with the size and
-- the bound. Answering before the client has sent it all would end in a reset, which this HAProxy
-- (2.6) hands the client as CANCELLED instead of the answer.
local limit = os.getenv("EGOV_GATEWAY_MAX_MESSAGE_BYTES")

core.register_service("refuse_oversized", "http", function(applet)
    repeat
        local chunk = applet:receive(65536)
    until chunk == nil or chunk == ""
    applet:set_status(200)
    applet:add_header("content-type", "application/grpc")
    applet:add_header("grpc-status", "8")
    applet:add_header("grpc-message", "request: " .. (applet:get_var("txn.request_bytes") or "?")
                      .. " bytes exceeds the limit of " .. limit .. " bytes")
    applet:start_response()
end)
