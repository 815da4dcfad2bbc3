//go:build go1.22

package main

const itemsPattern = "GET /items/{id}"
const usersPattern = "/users"
