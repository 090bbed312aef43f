"""The platform's command grammar: the verbs users type in the shell, the TUI's `:` line and chat."""
