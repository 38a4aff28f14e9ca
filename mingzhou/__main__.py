from mingzhou.cli import app

app(prog_name="mingzhou")
