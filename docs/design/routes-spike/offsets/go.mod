module spike/offsets

go 1.22
