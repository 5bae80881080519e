# Platform names as Node spells them (process.platform / process.arch), used to find the
# per-platform npm packages, plus a helper that copies runtime libraries beside the addon.
if(APPLE)
  set(MEMERY_PLATFORM darwin)
elseif(WIN32)
  set(MEMERY_PLATFORM win32)
else()
  set(MEMERY_PLATFORM linux)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(MEMERY_ARCH arm64)
else()
  set(MEMERY_ARCH x64)
endif()
message(STATUS "memery: building for ${MEMERY_PLATFORM}-${MEMERY_ARCH}")

set(MEMERY_RUNTIME_LIBS "" CACHE INTERNAL "")

# Copy every library in MEMERY_RUNTIME_LIBS next to the .node file and make the addon look for
# them there ($ORIGIN / @loader_path), so it loads from any working directory.
function(memery_bundle_runtime target)
  set_target_properties(${target} PROPERTIES BUILD_WITH_INSTALL_RPATH ON)
  if(APPLE)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "@loader_path")
  elseif(UNIX)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
  foreach(lib ${MEMERY_RUNTIME_LIBS})
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy_if_different "${lib}" "$<TARGET_FILE_DIR:${target}>")
  endforeach()
endfunction()
