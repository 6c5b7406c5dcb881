"""Import of households and of creditors' statements from CSV and XLSX files."""
