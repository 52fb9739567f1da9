# Writes the text of IN as a C++ raw string literal to OUT (cmake -P).
file(READ "${IN}" text)
file(WRITE "${OUT}" "R\"SEQMIX_EMBED(${text})SEQMIX_EMBED\"\n")
