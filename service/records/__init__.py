"""What the archive keeps and checks: E-ARK packages with their case description, and verification of our PDFs."""
