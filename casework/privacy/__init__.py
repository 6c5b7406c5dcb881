"""The family's data rights: the subject access export, retention and anonymisation."""
