//go:build !go1.22

package main

const itemsPattern = "/items/"
const usersPattern = "/users"
