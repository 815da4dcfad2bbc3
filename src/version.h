#pragma once
#define MWSCOPE_VERSION "0.1.0"
