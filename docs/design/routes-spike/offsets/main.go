package main

import (
	"net/http"
	"net/url"
	"reflect"
)

func main() {
	dump("http.Request", reflect.TypeOf(http.Request{}))
	dump("url.URL", reflect.TypeOf(url.URL{}))
}
