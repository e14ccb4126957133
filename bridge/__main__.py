"""``python -m bridge``: the same CLI as the ``bridge`` script (handy in a venv without PATH)."""

from bridge.cli import main

if __name__ == "__main__":
    main()
