# ONNX Runtime from npm: the runtime library of `onnxruntime-node` (bin/napi-v*/<platform>/<arch>/)
# and the C/C++ API headers of `com.github.asus4.onnxruntime` (headers must be the same version as
# the runtime or older; the runtime's symbols are versioned, so we link the exact file loaded later).
file(GLOB _ort_dirs "${MEMERY_NODE_MODULES}/onnxruntime-node/bin/napi-v*/${MEMERY_PLATFORM}/${MEMERY_ARCH}")
if(NOT _ort_dirs)
  message(FATAL_ERROR "memery: onnxruntime-node has no runtime for ${MEMERY_PLATFORM}-${MEMERY_ARCH} under "
    "${MEMERY_NODE_MODULES}/onnxruntime-node/bin/napi-v*/ (is onnxruntime-node installed, and does it support this platform?)")
endif()
list(SORT _ort_dirs ORDER DESCENDING)
list(GET _ort_dirs 0 ORT_LIB_DIR)
if(APPLE)
  # onnxruntime-node ships two copies, libonnxruntime.1.xx.y.dylib and libonnxruntime.1.dylib; the
  # install name of both is @rpath/libonnxruntime.1.dylib, so that is the file the addon loads at
  # run time and the one to copy beside it. (onnxruntime-node 1.30 ships darwin/arm64 only.)
  if(EXISTS "${ORT_LIB_DIR}/libonnxruntime.1.dylib")
    set(ORT_LIBRARY "${ORT_LIB_DIR}/libonnxruntime.1.dylib")
  else()
    file(GLOB ORT_LIBRARY "${ORT_LIB_DIR}/libonnxruntime.*.dylib")
    list(GET ORT_LIBRARY 0 ORT_LIBRARY)
  endif()
elseif(WIN32)
  set(ORT_LIBRARY "${ORT_LIB_DIR}/onnxruntime.dll")
  # onnxruntime-node ships no import library; one is generated from the DLL in CI (see .github).
  find_library(ORT_IMPLIB onnxruntime HINTS "${ORT_LIB_DIR}" "${CMAKE_BINARY_DIR}")
else()
  set(ORT_LIBRARY "${ORT_LIB_DIR}/libonnxruntime.so.1")
endif()
file(GLOB_RECURSE _ort_hdr "${MEMERY_NODE_MODULES}/com.github.asus4.onnxruntime/*/onnxruntime_c_api.h")
list(FILTER _ort_hdr INCLUDE REGEX "ios-arm64/onnxruntime.framework/Headers|/include/")
if(NOT _ort_hdr)
  file(GLOB_RECURSE _ort_hdr "${MEMERY_NODE_MODULES}/com.github.asus4.onnxruntime/*/onnxruntime_c_api.h")
endif()
if(NOT _ort_hdr)
  message(FATAL_ERROR "memery: no onnxruntime_c_api.h under ${MEMERY_NODE_MODULES}/com.github.asus4.onnxruntime (run npm install)")
endif()
list(GET _ort_hdr 0 _ort_hdr0)
get_filename_component(ORT_INCLUDE_DIR "${_ort_hdr0}" DIRECTORY)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OnnxRuntimeNpm REQUIRED_VARS ORT_LIBRARY ORT_INCLUDE_DIR)
message(STATUS "memery: ONNX Runtime ${ORT_LIBRARY} headers ${ORT_INCLUDE_DIR}")

add_library(OnnxRuntime::OnnxRuntime SHARED IMPORTED)
set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES
  IMPORTED_LOCATION "${ORT_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${ORT_INCLUDE_DIR}")
if(WIN32)
  set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES IMPORTED_IMPLIB "${ORT_IMPLIB}")
endif()
set(MEMERY_RUNTIME_LIBS ${MEMERY_RUNTIME_LIBS} "${ORT_LIBRARY}" CACHE INTERNAL "")
if(WIN32 AND EXISTS "${ORT_LIB_DIR}/DirectML.dll")
  # the Windows runtime of onnxruntime-node is a DirectML build
  set(MEMERY_RUNTIME_LIBS ${MEMERY_RUNTIME_LIBS} "${ORT_LIB_DIR}/DirectML.dll" CACHE INTERNAL "")
endif()
