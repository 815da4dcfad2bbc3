// muxserver: tiny net/http ServeMux server for the routes spike.
// Outer middleware allocates before the mux resolves; handlers allocate per route.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

var sink [][]byte

//go:noinline
func outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sink = append(sink[:0], make([]byte, 64))
		next.ServeHTTP(w, r)
	})
}

func items(w http.ResponseWriter, r *http.Request) {
	for i := 0; i < 3; i++ {
		sink = append(sink[:0], make([]byte, 128))
	}
	fmt.Fprintln(w, "items")
}

func users(w http.ResponseWriter, r *http.Request) {
	sink = append(sink[:0], make([]byte, 256))
	fmt.Fprintln(w, "users")
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc(itemsPattern, items)
	mux.HandleFunc(usersPattern, users)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println("listening on", ln.Addr())
	os.Stdout.Sync()
	http.Serve(ln, outer(mux))
}
