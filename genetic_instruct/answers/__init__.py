"""Reading a model's answer: its final text after any reasoning, its fenced code blocks,
and the tests written in its code. Shared by the roles and by seed files in chat formats."""
