"""One-time form keys: every state-changing form a page draws carries a fresh key, and the
first POST that sends it claims it in the same transaction as its work, so that a double click
or a browser's re-POST records once (the pages' counterpart of the API's Idempotency-Key)."""
