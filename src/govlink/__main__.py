"""``python -m govlink`` runs the ``govlink`` command."""

from govlink.cli import run

if __name__ == "__main__":
    run()
