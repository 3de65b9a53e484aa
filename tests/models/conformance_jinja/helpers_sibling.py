from cube import SafeString


def count_measure():
    return SafeString("- name: count\n        type: count")
