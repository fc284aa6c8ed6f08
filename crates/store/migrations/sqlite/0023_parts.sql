-- Spare parts a service visit or repair used (a partner logs them on its case).
ALTER TABLE interactions ADD COLUMN parts TEXT NOT NULL DEFAULT '[]';
