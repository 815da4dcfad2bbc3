// ginsrv: gin server for the routes spike (gin 1.8.1 from Debian, GOPATH mode).
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
)

var sink []byte

func main() {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(func(c *gin.Context) { sink = make([]byte, 64); c.Next() })
	e.GET("/items/:id", func(c *gin.Context) { sink = make([]byte, 128); c.String(200, "items\n") })
	api := e.Group("/api")
	api.POST("/users/*rest", func(c *gin.Context) { sink = make([]byte, 256); c.String(200, "users\n") })
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fmt.Println("listening on", ln.Addr())
	os.Stdout.Sync()
	http.Serve(ln, e)
}
