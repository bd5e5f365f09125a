from services.archive.cli import app

app()
