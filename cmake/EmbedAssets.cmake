# embed_assets(TARGET OUT FILE...): compiles the dashboard's files into a C++
# header: a table of {path, content type, text}, each text a raw string.
# The files under src/broker/http/assets/ are the single source; the broker
# never reads them at run time (no external network, nothing to install).
function(embed_assets target out)
  set(inputs ${ARGN})
  string(REPLACE ";" "|" joined "${inputs}")
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DINPUTS=${joined}"
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedAssetsScript.cmake
    DEPENDS ${inputs} ${PROJECT_SOURCE_DIR}/cmake/EmbedAssetsScript.cmake
    COMMENT "Embedding the dashboard's assets"
    VERBATIM)
  add_custom_target(${target} DEPENDS ${out})
endfunction()
