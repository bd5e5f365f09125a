"""postal: return of dossier results by post, through the postal operator, tracked to delivery."""
