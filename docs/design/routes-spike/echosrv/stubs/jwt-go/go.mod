// Empty stub: in echo's go.mod graph for echo/middleware (JWT), which this
// fixture does not import.
module github.com/dgrijalva/jwt-go
