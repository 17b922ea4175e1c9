-- One audit recorded outside the store's audit tables (the web workspace's marks).
INSERT INTO audit_audited_children VALUES ($1, $2)
