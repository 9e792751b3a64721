"""What the agency console reads and does across a staff member's tenants.

One module per department the console serves: :mod:`.overview` (this month's figures of every
merchant), :mod:`.orders` (the review queue, 订单审核), :mod:`.shops` (sync and webhook health)
and :mod:`.billing` (draft statements, 结算单). :mod:`.access` decides which tenants the user may
see and opens the unit of work each tenant is read in. Other domains are used through their
services only.
"""
