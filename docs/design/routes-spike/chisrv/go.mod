module spike/chisrv

go 1.19

require github.com/go-chi/chi/v5 v5.0.7

replace github.com/go-chi/chi/v5 => /usr/share/gocode/src/github.com/go-chi/chi
