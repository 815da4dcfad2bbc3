// gorillasrv: gorilla/mux server for the routes spike: router middleware (r.Use) and a subrouter.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/gorilla/mux"
)

var sink []byte

func main() {
	r := mux.NewRouter()
	r.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 64); next.ServeHTTP(w, q) })
	})
	r.HandleFunc("/items/{id}", func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 128); fmt.Fprintln(w, "items") }).Methods("GET")
	s := r.PathPrefix("/api").Subrouter()
	s.HandleFunc("/users/{name}", func(w http.ResponseWriter, q *http.Request) { sink = make([]byte, 256); fmt.Fprintln(w, "users") }).Methods("POST")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	fmt.Println("listening on", ln.Addr())
	os.Stdout.Sync()
	http.Serve(ln, r)
}
