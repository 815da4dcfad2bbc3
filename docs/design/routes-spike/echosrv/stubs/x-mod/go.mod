// Empty stub: Debian's golang.org/x/text go.mod requires x/mod (via x/tools'
// tooling) only; nothing this fixture builds imports it.
module golang.org/x/mod
