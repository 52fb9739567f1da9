# GoogleTest binaries of unittests/, run by lit so every test case is counted.
import os

import lit.formats

config.name = "SEQMIX-Unit"
config.suffixes = []
config.test_exec_root = os.path.join(config.seqmix_obj_root, "unittests")
config.test_source_root = config.test_exec_root
config.test_format = lit.formats.GoogleTest(".", "Tests")
