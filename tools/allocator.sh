# Sourced by ./nvgg and ./test.sh: glibc malloc settings for libtorch, from the process start (Linux only).
# mallopt at run time (NativeAllocator.KeepFreedMemory) keeps freed memory for reuse, but only an environment variable
# read at process start reaches the threads .NET starts before Main: a notebook cell runs on such a thread, and there
# glibc serves each large buffer with its own mmap/munmap (its arenas hold 64 MB), so every activation of every batch
# was page-faulted again — measured here: VGG19 features at 112×112 in a notebook took 76 s for 1,130 images without
# this setting and 47 s with it (the same as on the main thread). arena_max=1 sends every thread to the main arena.
if [ "$(uname -s)" = "Linux" ] && [[ "${GLIBC_TUNABLES:-}" != *glibc.malloc.arena_max* ]]; then
  export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647:glibc.malloc.arena_max=1"
fi
