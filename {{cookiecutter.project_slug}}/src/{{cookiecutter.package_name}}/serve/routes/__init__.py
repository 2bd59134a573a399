"""The server's routes, one router per resource; serve/app.py includes them."""
