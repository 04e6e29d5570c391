"""Store drivers: where image bytes live. Drivers only move bytes."""
