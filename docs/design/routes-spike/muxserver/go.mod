module spike/muxserver

go 1.19
