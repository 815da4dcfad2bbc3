// echosrv: echo v4 server for the routes spike: Pre (before routing) and Use (after) middleware, a group.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/labstack/echo/v4"
)

var sink []byte

func main() {
	e := echo.New()
	e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { sink = make([]byte, 32); return next(c) }
	})
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { sink = make([]byte, 64); return next(c) }
	})
	e.GET("/items/:id", func(c echo.Context) error { sink = make([]byte, 128); return c.String(200, "items\n") })
	g := e.Group("/api")
	g.POST("/users/:name", func(c echo.Context) error { sink = make([]byte, 256); return c.String(200, "users\n") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fmt.Println("listening on", ln.Addr())
	os.Stdout.Sync()
	http.Serve(ln, e)
}
