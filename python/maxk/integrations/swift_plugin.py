"""ms-swift plugin file (``--external_plugins``, printed by ``python -m maxk.integrations.swift``):
ms-swift executes it as a file, so it only imports the package module and installs it."""

from maxk.integrations.swift import install

install()
