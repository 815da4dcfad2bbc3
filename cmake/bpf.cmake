# bpf_object(NAME SOURCE): compiles SOURCE for the BPF target with CO-RE and
# generates NAME.skel.h with `bpftool gen skeleton`; defines the INTERFACE
# target NAME_skel that adds the skeleton's directory to the include path.
# vmlinux.h is dumped from the running kernel's BTF once per build tree.
# (kernel 5.12+): atomics that return the old value (a request's
# serial), and 32-bit jumps.
find_program(BPFTOOL bpftool PATHS /usr/sbin /usr/local/sbin REQUIRED)
find_program(BPF_CLANG NAMES clang clang-14 clang-19 REQUIRED)

set(BPF_GEN_DIR ${CMAKE_BINARY_DIR}/bpf)
file(MAKE_DIRECTORY ${BPF_GEN_DIR})
set(VMLINUX_H ${BPF_GEN_DIR}/vmlinux.h)
add_custom_command(OUTPUT ${VMLINUX_H}
  COMMAND ${BPFTOOL} btf dump file /sys/kernel/btf/vmlinux format c > ${VMLINUX_H}
  COMMENT "Generating vmlinux.h from the kernel's BTF")

function(bpf_object NAME SOURCE)
  set(OBJ ${BPF_GEN_DIR}/${NAME}.bpf.o)
  set(SKEL ${BPF_GEN_DIR}/${NAME}.skel.h)
  file(GLOB BPF_HEADERS ${CMAKE_SOURCE_DIR}/bpf/*.h)
  add_custom_command(OUTPUT ${OBJ}
    COMMAND ${BPF_CLANG} -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86
            -I${BPF_GEN_DIR} -I${CMAKE_SOURCE_DIR}/bpf
            -c ${CMAKE_SOURCE_DIR}/${SOURCE} -o ${OBJ}
    DEPENDS ${CMAKE_SOURCE_DIR}/${SOURCE} ${BPF_HEADERS} ${VMLINUX_H}
    COMMENT "Compiling BPF program ${SOURCE}")
  add_custom_command(OUTPUT ${SKEL}
    COMMAND ${BPFTOOL} gen skeleton ${OBJ} name ${NAME} > ${SKEL}
    DEPENDS ${OBJ}
    COMMENT "Generating BPF skeleton ${NAME}.skel.h")
  add_custom_target(${NAME}_skel_gen DEPENDS ${SKEL})
  add_library(${NAME}_skel INTERFACE)
  add_dependencies(${NAME}_skel ${NAME}_skel_gen)
  target_include_directories(${NAME}_skel INTERFACE ${BPF_GEN_DIR})
endfunction()
