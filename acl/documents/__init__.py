"""Documents: company trees, the blob store, receipts, integrity, and the one operations
layer (`operations`) through which every channel deposits, reads, moves, copies, deletes
and restores."""
