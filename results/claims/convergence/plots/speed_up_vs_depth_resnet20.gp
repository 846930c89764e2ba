# Re-plot by hand: gnuplot speed_up_vs_depth_resnet20.gp (writes speed_up_vs_depth_resnet20.png beside it)
here = ARG0[1:strlen(ARG0) - strlen('speed_up_vs_depth_resnet20.gp')]
if (!exists('out')) out = here . 'speed_up_vs_depth_resnet20.png'
set terminal pngcairo size 900,560 font ',11'
set output out
set title 'resnet20: BN''s speed-up to the target against depth'
set xlabel 'depth (weight layers)'
set ylabel 'speed-up: steps(no norm) / steps(BN)'
set key top left
set grid
set autoscale fix
set offsets graph 0, graph 0, graph 0.05, graph 0.05
set logscale y
set format y '%g'
set ytics (1)
set logscale x
set format x '%g'
plot here . 'speed_up_vs_depth_resnet20.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 1 notitle, '' index 0 using 1:2 with lines lw 2 lc 1 title 'tuned LRs, vs default init', \
     '' index 1 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 2 notitle, '' index 1 using 1:2 with lines lw 2 lc 2 title 'same LR, vs default init', \
     '' index 2 using 1:3:4 with filledcurves fs transparent solid 0.18 noborder lc 3 notitle, '' index 2 using 1:2 with lines lw 2 lc 3 title 'tuned LRs, vs He init', \
     2 with lines dt 2 lw 1.5 lc rgb 'black' title '2x (the claim)'
