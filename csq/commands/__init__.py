"""The plain commands (`csq login`, `ls`, `show`, `do`, `sync`, `status`,
`conflicts`): scripts and shell people use these instead of the full-screen
app. Each module registers its subcommands on the parser and runs them."""
