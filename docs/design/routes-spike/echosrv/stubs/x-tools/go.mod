// Empty stub: Debian's golang.org/x/text go.mod requires x/tools for its code
// generators only; nothing this fixture builds imports it.
module golang.org/x/tools
