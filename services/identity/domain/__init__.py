"""Identity rules: who may hold an account, and what their details must look like. Pure Python."""
