module spike/echosrv

go 1.19

require github.com/labstack/echo/v4 v4.2.1

require (
	github.com/labstack/gommon v0.3.0 // indirect
	github.com/mattn/go-colorable v0.1.7 // indirect
	github.com/mattn/go-isatty v0.0.16 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasttemplate v1.2.1 // indirect
	golang.org/x/crypto v0.0.0-20200820211705-5c72a883971a // indirect
	golang.org/x/net v0.3.0 // indirect
	golang.org/x/sys v0.5.0 // indirect
	golang.org/x/text v0.7.0 // indirect
)

// No module proxy here: echo and the modules its packages import come from
// Debian's golang-*-dev packages under /usr/share/gocode/src. Build with
// GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off and
// -overlay=overlay.json: Debian ships gommon and bytebufferpool without a
// go.mod, the overlay supplies one (gomod/*.mod). Modules that are only in
// echo's go.mod graph (echo's go.mod is go 1.15: unpruned) and that nothing
// here imports are replaced by empty stub modules (stubs/*/go.mod).
replace (
	github.com/labstack/echo/v4 => /usr/share/gocode/src/github.com/labstack/echo
	github.com/labstack/gommon => /usr/share/gocode/src/github.com/labstack/gommon
	github.com/mattn/go-colorable => /usr/share/gocode/src/github.com/mattn/go-colorable
	github.com/mattn/go-isatty => /usr/share/gocode/src/github.com/mattn/go-isatty
	github.com/valyala/bytebufferpool => /usr/share/gocode/src/github.com/valyala/bytebufferpool
	github.com/valyala/fasttemplate => /usr/share/gocode/src/github.com/valyala/fasttemplate
	golang.org/x/crypto => /usr/share/gocode/src/golang.org/x/crypto
	golang.org/x/net => /usr/share/gocode/src/golang.org/x/net
	golang.org/x/sys => /usr/share/gocode/src/golang.org/x/sys
	golang.org/x/term => /usr/share/gocode/src/golang.org/x/term
	golang.org/x/text => /usr/share/gocode/src/golang.org/x/text
	golang.org/x/time => /usr/share/gocode/src/golang.org/x/time
)

replace (
	github.com/dgrijalva/jwt-go => ./stubs/jwt-go
	github.com/stretchr/testify => ./stubs/testify
	golang.org/x/mod => ./stubs/x-mod
	golang.org/x/tools => ./stubs/x-tools
)
