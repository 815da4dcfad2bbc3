// Empty stub: in echo's go.mod graph for echo's tests only; Debian's testify
// would pull in go-spew, go-difflib, objx, yaml.v3 and check.v1 as well.
module github.com/stretchr/testify
