{
  "variables": {
    "wt_isa_sources": [
      "native/src/elementwise.cc",
      "native/src/reduce.cc",
      "native/src/norms.cc",
      "native/src/losses.cc",
      "native/src/attention.cc",
      "native/src/rope.cc",
      "native/src/optim.cc",
      "native/src/selective_scan.cc",
      "native/src/rwkv.cc",
      "native/src/lowrank_attention.cc",
      "native/src/recurrence.cc"
    ],
    "wt_common_cflags": ["-mtune=native", "-fno-math-errno", "-pthread", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-psabi"]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-fPIC"]
  },
  "targets": [
    {
      "target_name": "wt_kernels_sse2",
      "type": "static_library",
      "sources": ["<@(wt_isa_sources)"],
      "defines": ["WT_ISA=isa_sse2"],
      "cflags": ["-march=x86-64", "<@(wt_common_cflags)"]
    },
    {
      "target_name": "wt_kernels_avx2",
      "type": "static_library",
      "sources": ["<@(wt_isa_sources)"],
      "defines": ["WT_ISA=isa_avx2"],
      "cflags": ["-march=x86-64-v3", "<@(wt_common_cflags)"]
    },
    {
      "target_name": "wt_kernels_avx512",
      "type": "static_library",
      "sources": ["<@(wt_isa_sources)"],
      "defines": ["WT_ISA=isa_avx512"],
      "cflags": ["-march=x86-64-v4", "<@(wt_common_cflags)"]
    },
    {
      "target_name": "windtunnel",
      "dependencies": ["wt_kernels_sse2", "wt_kernels_avx2", "wt_kernels_avx512"],
      "sources": [
        "native/src/addon.cc",
        "native/src/dispatch.cc",
        "native/src/pool.cc",
        "native/src/gemm.cc",
        "native/src/probes.cc"
      ],
      "defines": [
        "WT_CFLAGS=\"kernels: -O3 -march=x86-64 | x86-64-v3 | x86-64-v4 -mtune=native -fno-math-errno; bindings: -march=x86-64\""
      ],
      "cflags": ["-march=x86-64", "<@(wt_common_cflags)"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
