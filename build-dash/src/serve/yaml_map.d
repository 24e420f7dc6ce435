build-dash/src/serve/yaml_map.o: src/serve/yaml_map.c \
 src/serve/yaml_map.h src/util/error.h
src/serve/yaml_map.h:
src/util/error.h:
