package main

import (
	"fmt"
	"reflect"
)

// dump prints the byte offset and size of every field of struct type t.
func dump(name string, t reflect.Type) {
	for t.Kind() == reflect.Ptr {
		t = t.Elem()
	}
	fmt.Printf("%s (size %#x):", name, t.Size())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		fmt.Printf(" %s@%#x", f.Name, f.Offset)
	}
	fmt.Println()
}
