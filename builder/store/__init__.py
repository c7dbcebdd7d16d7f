"""The only code that touches an output folder's bookkeeping: paths under .spectroset/, the
inside-the-root rule, atomic writes, the journal, the ledger of written files, the lock, build.json."""
