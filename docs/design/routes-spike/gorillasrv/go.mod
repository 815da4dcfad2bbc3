module spike/gorillasrv

go 1.19

require github.com/gorilla/mux v1.8.0

replace github.com/gorilla/mux => /usr/share/gocode/src/github.com/gorilla/mux
