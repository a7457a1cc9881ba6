"""The browser's side of Simpul: server-side sessions and CSRF tokens (pages come later)."""
