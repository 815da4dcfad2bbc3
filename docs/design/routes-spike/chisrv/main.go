// chisrv: chi v5 server for the routes spike: Use middleware run before routing; a mounted subrouter.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/go-chi/chi/v5"
)

var sink []byte

func main() {
	r := chi.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 64); next.ServeHTTP(w, q) })
	})
	r.Get("/items/{id}", func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 128); fmt.Fprintln(w, "items") })
	sub := chi.NewRouter()
	sub.Post("/users/{name}", func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 256); fmt.Fprintln(w, "users") })
	r.Mount("/api", sub)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fmt.Println("listening on", ln.Addr())
	os.Stdout.Sync()
	http.Serve(ln, r)
}
